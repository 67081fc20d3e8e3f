"""``python -m trackside.api``: run the API under gunicorn on the configured address."""
from trackside.api.server import main

main()
