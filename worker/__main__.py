"""``python -m worker ARGS``: Celery's command line (worker, flower, inspect) on Gradyard's app.

The app is built here from the settings, not at the import of any module: ``gradyard worker``
runs ``python -m worker worker …``, and compose's flower ``python -m worker flower``.
"""

import sys

from store.settings import ConfigError, get_settings
from worker.app import create_celery

try:
    settings = get_settings()
except ConfigError as exc:
    print(f"gradyard: bad configuration:\n{exc}", file=sys.stderr)
    raise SystemExit(2) from None
create_celery(settings).start(sys.argv[1:])
