"""Which scenarios run when ``--tags`` / ``--exclude-tags`` select them.

Locust filters the *tasks* of every user class by tag but still spawns users of classes left
without tasks, which then fail ("No tasks defined"). Each scenario is one class with one tagged
task, so ``--tags race`` should mean "only AnswerRace": this drops the classes with no task left
from the environment before the first user is spawned (the ``init`` event).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _runs_something(user_class: type, tags: set[str], exclude: set[str]) -> bool:
    for task in getattr(user_class, "tasks", []):
        task_tags = set(getattr(task, "locust_tag_set", ()))
        if (not tags or task_tags & tags) and not task_tags & exclude:
            return True
    return False


def select_by_tags(environment: Any) -> None:
    """Keep only the user classes that still have a task under the tag options."""
    parsed = environment.parsed_options
    tags = set(getattr(parsed, "tags", None) or ())
    exclude = set(getattr(parsed, "exclude_tags", None) or ())
    if not tags and not exclude:
        return
    keep = [cls for cls in environment.user_classes if _runs_something(cls, tags, exclude)]
    if not keep:
        log.error("no scenario has a task tagged %s (excluding %s)", sorted(tags), sorted(exclude))
        return
    dropped = sorted(cls.__name__ for cls in environment.user_classes if cls not in keep)
    if dropped:
        log.info("tags select %s; not running %s",
                 ", ".join(sorted(cls.__name__ for cls in keep)), ", ".join(dropped))
        environment.user_classes = keep
