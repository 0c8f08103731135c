"""The request cycle, in the order a request meets it: its id, the security headers and
the HTTP metrics around it (instrumentation), the body read with a deadline and parsed
strictly (body_deadline, json_body), authentication and limits, validation against the
schemas, and the error envelopes every failure becomes."""
