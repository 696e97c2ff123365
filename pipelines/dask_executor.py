"""``dagster-dask``'s executor, made to run with the ``distributed`` release we pin.

dagster-dask 0.29.27 passes the run's records (``DagsterRun``, ``KnownExecutionState``,
``InstanceRef``) to ``Client.submit`` as positional arguments. Since dask 2024.12 the client
walks every tuple among a task's arguments looking for futures, and Dagster's records are
tuples that forbid iteration, so every step fails before it starts with "Iteration is not
allowed on `@record`s" (measured with distributed 2026.8.0). This executor is dagster-dask's
own (:class:`dagster_dask.executor.DaskExecutor`: same configuration, same worker function
:func:`dagster_dask.executor.query_on_dask_worker`) with one change: those records are bound
into a :func:`functools.partial`, which dask ships as one opaque callable, and only the list
of upstream futures is passed as a task argument (that list is what orders the steps).
"""

from collections.abc import Iterator
from functools import partial

import dagster as dg
import dask.distributed
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._utils import iterate_with_context
from dagster._core.errors import raise_execution_interrupts
from dagster_dask.executor import DaskExecutor, get_dask_resource_requirements, query_on_dask_worker
from dagster_dask.executor import dask_executor as _upstream


class OpaqueArgsDaskExecutor(DaskExecutor):
    """Steps as Dask tasks, level by level, each waiting for the steps it reads from."""

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        if not plan_context.instance.is_persistent:
            raise dg.DagsterInvariantViolationError("Dask execution requires a persistent DagsterInstance")
        job_name = plan_context.job_name
        if self.cluster_type == "existing":
            cluster = self.cluster_configuration["address"]
        elif self.cluster_type == "local":
            cluster = dask.distributed.LocalCluster(**self.build_dict(job_name))
        else:
            raise ValueError(f"cluster type {self.cluster_type!r}: this project runs 'local' or 'existing' clusters")
        try:
            yield from self._run_steps(cluster, plan_context, execution_plan)
        finally:
            # close after the client has gone: closing first would make the scheduler
            # reschedule the finished steps of the departing workers
            if isinstance(cluster, dask.distributed.LocalCluster):
                cluster.close()

    def _run_steps(self, cluster, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        job_name = plan_context.job_name
        with dask.distributed.Client(cluster) as client:
            futures: dict[str, dask.distributed.Future] = {}
            for level in execution_plan.get_steps_to_execute_by_level():
                for step in level:
                    upstream = [futures[key] for step_input in step.step_inputs for key in step_input.dependency_keys]
                    run_step = partial(
                        query_on_dask_worker,
                        recon_job=plan_context.reconstructable_job,
                        dagster_run=plan_context.dagster_run,
                        run_config=plan_context.run_config,
                        step_keys=[step.key],
                        instance_ref=plan_context.instance.get_ref(),
                        known_state=execution_plan.known_state,
                    )
                    futures[step.key] = client.submit(
                        run_step, upstream, key=f"{job_name}.{step.key}",
                        resources=get_dask_resource_requirements(step.tags),
                    )
            done = dask.distributed.as_completed(list(futures.values()), with_results=True)
            for _future, events in iterate_with_context(raise_execution_interrupts, done):
                yield from events
            del done, futures


@dg.executor(name="dask", config_schema=_upstream.config_schema, requirements=dg.multiple_process_executor_requirements())
def dask_executor(init_context):
    """dagster-dask's executor (``cluster: {local: {...}}`` or ``cluster: {existing: {address: ...}}``)."""
    ((cluster_type, cluster_configuration),) = init_context.executor_config["cluster"].items()
    return OpaqueArgsDaskExecutor(cluster_type, cluster_configuration)
