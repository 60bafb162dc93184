from caseflow_servicekit.migrations import run_env
from cases.adapters.tables import metadata

run_env(metadata)
