"""Clusters: the v6 metadata CRUD and the v1 list of cluster names (spec B.8)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.pagination import paginate

from api.common.pagination import FlotillaPagination
from api.flotilla.auth import runs_writer
from api.flotilla.routes import answers, at_versions, reads
from api.flotilla.schemas import (
    ClusterIn,
    ClusterNamesOut,
    ClusterOut,
    ClusterUpdatedOut,
    ClusterUpdateIn,
    CreatedOut,
    DeletedOut,
)
from domain.executions.conf import cluster_names
from domain.runs import selectors
from domain.runs.clusters import cluster_create, cluster_delete, cluster_update

router = Router(tags=["clusters"])


@at_versions(router, "GET", "/clusters", versions=("v1",), response=answers({200: ClusterNamesOut}))
@reads
def list_cluster_names(request: HttpRequest):
    """The clusters this deployment can run on."""
    return {"clusters": sorted(cluster_names())}


@at_versions(
    router, "GET", "/clusters", versions=("v6",), response=answers({200: list[ClusterOut]})
)
@paginate(FlotillaPagination, items_key="clusters")
@reads
def list_clusters(request: HttpRequest):
    """Cluster metadata, by name."""
    return selectors.clusters_list()


@at_versions(
    router,
    "POST",
    "/clusters",
    versions=("v6",),
    response=answers({200: CreatedOut}, 403, 409, 413),
    auth=runs_writer,
)
def create_cluster(request: HttpRequest, payload: ClusterIn):
    """Describe a cluster (admin or dev); 409 when its name is taken."""
    cluster = cluster_create(**payload.model_dump(exclude_none=True))
    return {"created": True, "id": cluster.id}


@at_versions(
    router,
    "GET",
    "/clusters/{cluster_id}",
    versions=("v6",),
    response=answers({200: ClusterOut}, 404),
)
@reads
def get_cluster(request: HttpRequest, cluster_id: str):
    return selectors.cluster_get(cluster_id=cluster_id)


@at_versions(
    router,
    "PUT",
    "/clusters/{cluster_id}",
    versions=("v6",),
    response=answers({200: ClusterUpdatedOut}, 403, 404, 409, 413),
    auth=runs_writer,
)
def update_cluster(request: HttpRequest, cluster_id: str, payload: ClusterUpdateIn):
    """Change a cluster (admin or dev): the fields given replace the stored ones."""
    cluster_update(cluster_id=cluster_id, changes=payload.model_dump(exclude_none=True))
    return {"updated": True}


@at_versions(
    router,
    "DELETE",
    "/clusters/{cluster_id}",
    versions=("v6",),
    response=answers({200: DeletedOut}, 403, 404),
    auth=runs_writer,
)
def delete_cluster(request: HttpRequest, cluster_id: str):
    cluster_delete(cluster_id=cluster_id)
    return {"deleted": True}
