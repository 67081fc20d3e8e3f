"""``python -m trackside.webapp``: run the web app under gunicorn on the configured address."""
from trackside.webapp.server import main

main()
