// Prints, as JSON, every occurrence that ical.js finds in an iCalendar file between two
// dates: [{"uid", "start", "summary"}], start as the file's wall-clock time (or date).
// Usage: node expand.mjs FILE FROM TO   (FROM and TO as YYYY-MM-DD, inclusive)
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const [file, from, to] = process.argv.slice(2);
const root = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
for (const zone of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}
const masters = new Map();
const exceptions = [];
for (const component of root.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(component);
  if (event.isRecurrenceException()) exceptions.push(event);
  else masters.set(event.uid, event);
}
for (const exception of exceptions) {
  const master = masters.get(exception.uid);
  if (!master) throw new Error(`RECURRENCE-ID without its series: ${exception.uid}`);
  master.relateException(exception);
}
const day = (time) => time.toString().slice(0, 10);
const found = [];
for (const event of masters.values()) {
  if (!event.isRecurring()) {
    if (day(event.startDate) >= from && day(event.startDate) <= to) {
      found.push({ uid: event.uid, start: event.startDate.toString(), summary: event.summary });
    }
    continue;
  }
  const iterator = event.iterator();
  for (let next = iterator.next(), n = 0; next && n < 100000; next = iterator.next(), n++) {
    const details = event.getOccurrenceDetails(next);
    const start = details.startDate;
    if (day(next) > to && day(start) > to) break;
    if (day(start) >= from && day(start) <= to) {
      found.push({ uid: event.uid, start: start.toString(), summary: details.item.summary });
    }
  }
}
process.stdout.write(JSON.stringify(found));
