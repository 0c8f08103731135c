"""The request cycle: ids, headers and metrics (instrumentation), the body read with a
deadline and parsed strictly, authentication, limits and the error envelopes."""
