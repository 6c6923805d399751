"""S3 task discovery: cluster the curated calls into recurring tasks, name them, rank what an SLM can take over.

    from fde_toolkit.tasks import discover, discover_tasks, render_tasks, TasksConfig
    tasks = discover(eng)                                        # `fde discover`: tasks.parquet + tasks.json
    assignments, tasks = discover_tasks(calls, TasksConfig())   # pure, on a canonical frame
    print(render_tasks(tasks))
"""

from fde_toolkit.tasks.config import TasksConfig, tasks_config
from fde_toolkit.tasks.discover import discover, discover_tasks, render_tasks

__all__ = ["TasksConfig", "discover", "discover_tasks", "render_tasks", "tasks_config"]
