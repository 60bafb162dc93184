from caseflow_servicekit.migrations import run_env
from knowledge.adapters.tables import metadata

run_env(metadata)
