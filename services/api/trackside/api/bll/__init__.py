"""Domain logic (the reference's "bll"): rules about projects, tasks, models and queues, over the collections."""
