"""What to tell an operator whose events live in Elasticsearch: the archive does not hold its indexes; the
cluster's own snapshot API copies them consistently (we never read every event through the client)."""

BACKUP = """events are in Elasticsearch and are NOT in this archive. Snapshot them with Elasticsearch itself:
  1. once: add `path.repo: ["/usr/share/elasticsearch/backup"]` to elasticsearch.yml (a mounted folder), restart, then
     curl -X PUT localhost:9200/_snapshot/trackside -H 'Content-Type: application/json' \\
          -d '{"type": "fs", "settings": {"location": "/usr/share/elasticsearch/backup"}}'
  2. each backup, beside this archive:
     curl -X PUT 'localhost:9200/_snapshot/trackside/events-<date>?wait_for_completion=true' \\
          -H 'Content-Type: application/json' -d '{"indices": "events-*", "include_global_state": false}'
(see deploy/README.md, "Backup")"""

RESTORE = """events are in Elasticsearch: restore its snapshot taken with the archive, e.g.
  curl -X POST 'localhost:9200/_snapshot/trackside/events-<date>/_restore?wait_for_completion=true' \\
       -H 'Content-Type: application/json' -d '{"indices": "events-*", "include_global_state": false}'
(close or delete existing events-* indexes first; see deploy/README.md, "Restore")"""
