"""iCalendar (RFC 5545): a department's events as a feed, and VEVENTs read back as events.

The ``icalendar`` library does the format (folding, escaping, time zones); this package
maps our events to and from it. No storage, no Flask here.
"""
