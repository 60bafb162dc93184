from caseflow_servicekit.migrations import run_env
from sla.adapters.tables import metadata

run_env(metadata)
