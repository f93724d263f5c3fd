"""The one way this project makes a Google Cloud Storage client (operator, CLI, trainer).

The client reads ``STORAGE_EMULATOR_HOST`` when it is constructed and honours it by
itself; with that variable set we also pass anonymous credentials, because an emulator
(fake-gcs-server in the tests) has no OAuth endpoint and the default credential lookup
would fail or stall. Otherwise Application Default Credentials are used. No project is
needed for object operations, so ``GOOGLE_CLOUD_PROJECT`` is passed through when set.

Importing this module is cheap: google-cloud-storage is imported inside
:func:`make_client`, so code that may never touch ``gs://`` can import it freely. It is
public to the trainer image (``tuningsweep_trainer.gcs``) as well as the operator side.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import StorageError

if TYPE_CHECKING:
    from google.cloud.storage import Client

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"
EMULATOR_DEFAULT_PROJECT = "tuningsweep"


def make_client() -> Client:
    """A storage client: anonymous against ``STORAGE_EMULATOR_HOST``, else ADC.

    Raises:
        StorageError: no credentials are available (with how to provide them).
    """
    from google.auth import exceptions as auth_exc
    from google.cloud.storage import Client

    if os.environ.get(EMULATOR_ENV):
        from google.auth.credentials import AnonymousCredentials

        return Client(
            project=os.environ.get(PROJECT_ENV, EMULATOR_DEFAULT_PROJECT),
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )
    try:
        return Client(project=os.environ.get(PROJECT_ENV))
    except auth_exc.DefaultCredentialsError as err:
        raise StorageError(
            "no Google Cloud credentials found for gs:// storage: run "
            "`gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, "
            "or use a workload identity"
        ) from err
