"""A third-party gRPC backend for Switchboard's tests: Python grpcio.

Serves py.inventory.v1.InventoryService with grpcio-reflection (which speaks only
grpc.reflection.v1alpha) and grpcio-health-checking, on loopback.

    tests/python/setup.sh                      # once: venv, requirements, stubs
    .venv/bin/python tests/python/inventory_server.py --port 0

Prints ``listening on 127.0.0.1:PORT`` (flushed) once it accepts calls, so a
parent process can wait for that line; stops cleanly on SIGTERM or Ctrl-C.
"""

import argparse
import os
import signal
import sys
import threading
import time
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "gen"))

import grpc  # noqa: E402
from google.protobuf import any_pb2, field_mask_pb2  # noqa: E402
from google.rpc import code_pb2, error_details_pb2, status_pb2  # noqa: E402
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

try:
    import inventory_pb2  # noqa: E402
    import inventory_pb2_grpc  # noqa: E402
except ImportError:
    sys.exit("inventory_server.py: stubs missing; run tests/python/setup.sh first")

SERVICE_NAME = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name


class Inventory(inventory_pb2_grpc.InventoryServiceServicer):
    """An in-memory inventory, pre-seeded so GET /v1/items/apple works.

    Every unary call answers with initial metadata ``x-served-by: <port>`` (the
    balancing tests count it) and ``x-peer: <the caller's address>`` (the
    keepalive tests tell connections apart by it), and echoes the caller's ``x-tenant`` metadata as
    ``x-tenant-echo``; GetItem also sets the trailer ``x-item-etag``.
    """

    def __init__(self):
        self.port = 0
        self._lock = threading.Lock()
        self._items = {}
        fruit, tool = inventory_pb2.CATEGORY_FRUIT, inventory_pb2.CATEGORY_TOOL
        for item in (
            inventory_pb2.Item(id="apple", name="Apple", quantity=10, price=0.5, tags=["fruit"], category=fruit),
            inventory_pb2.Item(id="pear", name="Pear", quantity=3, price=0.75, tags=["fruit"], category=fruit),
            inventory_pb2.Item(id="hammer", name="Hammer", quantity=1, price=12.0, tags=["tool"], category=tool),
        ):
            self._items[item.id] = item

    def _initial_metadata(self, context, *extra):
        metadata = [("x-served-by", str(self.port)), ("x-peer", context.peer())]
        for key, value in context.invocation_metadata():
            if key == "x-tenant":
                metadata.append(("x-tenant-echo", value))
        context.send_initial_metadata(tuple(metadata) + extra)

    def GetItem(self, request, context):
        self._initial_metadata(context)
        with self._lock:
            item = self._items.get(request.id)
        if item is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"item {request.id!r} not found")
        context.set_trailing_metadata((("x-item-etag", f"{item.id}-{item.quantity}"),))
        return item

    def ListItems(self, request, context):
        self._initial_metadata(context)
        with self._lock:
            items = list(self._items.values())
        if request.ids:
            items = [i for i in items if i.id in request.ids]
        if request.filter.category:
            items = [i for i in items if i.category == request.filter.category]
        items = [i for i in items if i.quantity >= request.filter.min_quantity]
        items.sort(key=lambda i: i.id)
        return inventory_pb2.ListItemsResponse(items=items, next_page_token=request.page_token)

    def UpdateItem(self, request, context):
        # The mask the gateway built, for the tests to see.
        self._initial_metadata(context, ("x-update-mask", ",".join(request.update_mask.paths)))
        if not request.update_mask.paths:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "update_mask is required")
        with self._lock:
            item = self._items.get(request.item.id)
            if item is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"item {request.item.id!r} not found")
            mask = field_mask_pb2.FieldMask(paths=request.update_mask.paths)
            mask.MergeMessage(request.item, item, replace_repeated_field=True)
            return item

    def CreateItem(self, request, context):
        self._initial_metadata(context)
        item = request.item
        if not item.id:
            # A standard google.rpc.BadRequest detail (not in this server's
            # descriptors) and a trailer, after the initial metadata.
            detail = any_pb2.Any()
            detail.Pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field="item.id", description="item.id is required", reason="REQUIRED"
                        )
                    ]
                )
            )
            status = rpc_status.to_status(
                status_pb2.Status(
                    code=code_pb2.INVALID_ARGUMENT,
                    message="item.id is required",
                    details=[detail],
                )
            )
            trailers = tuple(status.trailing_metadata) + (("x-violations", "1"),)
            context.abort_with_status(status._replace(trailing_metadata=trailers))
        with self._lock:
            if item.id in self._items:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"item {item.id!r} already exists")
            self._items[item.id] = item
        return item

    def ReserveItem(self, request, context):
        self._initial_metadata(context)
        with self._lock:
            item = self._items.get(request.id)
            if item is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"item {request.id!r} not found")
            if request.quantity > item.quantity:
                detail = any_pb2.Any()
                detail.Pack(
                    inventory_pb2.InventoryError(
                        reason="INSUFFICIENT_STOCK",
                        item_id=item.id,
                        available=item.quantity,
                    )
                )
                status = status_pb2.Status(
                    code=code_pb2.FAILED_PRECONDITION,
                    message=f"only {item.quantity} of {item.id!r} in stock",
                    details=[detail],
                )
                context.abort_with_status(rpc_status.to_status(status))
            item.quantity -= request.quantity
            return item

    def WatchItems(self, request, context):
        with self._lock:
            items = [i for i in self._items.values() if not request.tag or request.tag in i.tags]
        for index, item in enumerate(items):
            if index and request.interval_ms > 0:
                time.sleep(request.interval_ms / 1000)
            if not context.is_active():
                return
            yield item


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=50053, help="0 picks a free port")
    args = parser.parse_args()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    inventory = Inventory()
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(inventory, server)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)

    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )

    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    if port == 0:
        sys.exit(f"inventory_server.py: cannot listen on 127.0.0.1:{args.port}")
    inventory.port = port
    server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
