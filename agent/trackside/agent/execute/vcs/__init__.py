"""Git for the agent: repository URLs and credentials (``urls``), git sessions that keep credentials off
disk (``git``), the vcs cache of bare mirrors (``mirrors``), and the task's work copy (``workcopy``)."""
