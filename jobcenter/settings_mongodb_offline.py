"""MongoDB settings without a server: the app configs and ObjectId primary keys of the
MongoDB path, on Django's dummy engine. Used to (re)generate ``mongo_migrations/`` for the
contrib apps and, in the tests, to check that our own migrations need no MongoDB variant:

    DJANGO_SETTINGS_MODULE=jobcenter.settings_mongodb_offline \
        python manage.py makemigrations admin auth contenttypes
"""

import os

os.environ["MONGODB_URI"] = "mongodb://localhost:27017/jobcenter"

from jobcenter.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.dummy"}}
