"""Change notifications over HTTP: the message formats, their signature, the guard against
private targets and the one POST, with no storage of their own.

The worker that stores deliveries and retries them calls ``messages.render``,
``sending.headers_for`` and ``sending.send``; registration calls ``targets.check_url``.
"""
