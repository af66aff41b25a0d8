import os
import warnings

from django.core.asgi import get_asgi_application

from jobcenter.body_limit import BodyLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobcenter.settings")

# WhiteNoise serves static files through a synchronous iterator, which Django's ASGI handler
# consumes in a thread and warns about on every file. Static files are small and cached by
# browsers; the warning is noise in run.sh's output. Streams of our own (the API's events)
# are asynchronous.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

# Oversized bodies are refused before Django's handler reads them (jobcenter/body_limit.py).
application = BodyLimit(get_asgi_application())
