from caseflow_servicekit.migrations import run_env
from routing.adapters.tables import metadata

run_env(metadata)
