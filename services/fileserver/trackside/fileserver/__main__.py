"""``python -m trackside.fileserver``: run the file server under gunicorn on the configured address."""
from trackside.fileserver.server import main

main()
