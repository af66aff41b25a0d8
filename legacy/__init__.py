"""Moving over from the older system (a Flask service over MongoDB collections ``event_jobs``,
``event_batches`` and ``event_sessions``).

* ``extjson``: MongoDB Extended JSON and BSON values -> plain Python.
* ``sources``: streaming readers of the three collections (mongoexport files or pymongo).
* ``convert``: one legacy document -> the Job Center's field values (shared by every source).
* ``importer``: the import service, the one place that writes imported rows.
* ``report``: the summary table and the progress bar of ``manage.py import_legacy``.

The compatibility routes, for the older service's clients:

* ``api`` + ``schemas``: its routes and shapes under ``/api/legacy/event-job/`` (deprecated),
  translated to the Job Center's access checks, selectors and services.
* ``services``: what those routes change that the Job Center's services do not cover (the
  old webhook on new jobs, placeholder owners for ``X-User-ID``, deleting a whole batch).
* ``webhooks``: the old webhook's payload and headers (called by jobs/webhooks.py).
"""
