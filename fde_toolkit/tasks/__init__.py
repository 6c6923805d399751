"""S3 task discovery: cluster the curated calls into recurring tasks, name them, rank what an SLM can take over
(by the LLM spend it could avoid: share of the bill x readiness, ranking.py).

    from fde_toolkit.tasks import discover, discover_tasks, render_tasks, TasksConfig
    tasks = discover(eng)                                        # `fde discover`: tasks.parquet + tasks.json
    assignments, tasks = discover_tasks(calls, TasksConfig())   # pure, on a canonical frame
    print(render_tasks(tasks))
"""

from fde_toolkit.tasks.config import TasksConfig, tasks_config


def __getattr__(name: str):
    """discover, discover_tasks and render_tasks load the clustering stack only when first used."""
    if name in ("discover", "discover_tasks", "render_tasks"):
        import importlib

        module = importlib.import_module("fde_toolkit.tasks.discover")
        globals().update(discover=module.discover, discover_tasks=module.discover_tasks,
                         render_tasks=module.render_tasks)
        return globals()[name]
    raise AttributeError(name)


__all__ = ["TasksConfig", "discover", "discover_tasks", "render_tasks", "tasks_config"]
