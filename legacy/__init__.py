"""Moving over from the older system (a Flask service over MongoDB collections ``event_jobs``,
``event_batches`` and ``event_sessions``).

* ``extjson``: MongoDB Extended JSON and BSON values -> plain Python.
* ``sources``: streaming readers of the three collections (mongoexport files or pymongo).
* ``convert``: one legacy document -> the Job Center's field values (shared by every source).
* ``importer``: the import service, the one place that writes imported rows.
* ``report``: the summary table and the progress bar of ``manage.py import_legacy``.

The compatibility routes (``/api/legacy/event-job/``) belong in this package too, as a
router of their own (``legacy/api.py``) that reuses ``convert``'s status and field tables.
"""
