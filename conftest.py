"""Project-wide pytest set-up."""

import os

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there
# unless told the thread is still synchronous code, which it is.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
