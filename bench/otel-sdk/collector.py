#!/usr/bin/python3
"""Bench-only OTLP/gRPC trace collector: counts the spans it receives.

Serves opentelemetry.proto.collector.trace.v1.TraceService/Export on 127.0.0.1:PORT with Debian's
python3-grpcio. The message classes are generated at start with protoc from the OTLP protos in
tests/fixtures/otlp (or $OTLP_PROTO_DIR) into a temporary folder; no generated code is kept.
Each request is parsed in full (ExportTraceServiceRequest.FromString) and answered with an empty
ExportTraceServiceResponse. The running total is written to the file named by --count-file after
every request (so measure.sh reads it without talking to this process), and also printed on exit.

usage: collector.py PORT COUNT_FILE
Stops on SIGTERM/SIGINT, or by itself after --max-seconds (default 3600).
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading

import grpc

PROTO_DIR = os.environ.get("OTLP_PROTO_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "otlp"))
PROTOS = [
    "opentelemetry/proto/common/v1/common.proto",
    "opentelemetry/proto/resource/v1/resource.proto",
    "opentelemetry/proto/trace/v1/trace.proto",
    "opentelemetry/proto/collector/trace/v1/trace_service.proto",
]


def load_messages(tmp):
    subprocess.run(["protoc", f"-I{PROTO_DIR}", f"--python_out={tmp}", *PROTOS], check=True)
    sys.path.insert(0, tmp)
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402

    return trace_service_pb2


def main():
    port, count_file = int(sys.argv[1]), sys.argv[2]
    max_seconds = 3600
    with tempfile.TemporaryDirectory(prefix="otlp-py-") as tmp:
        pb = load_messages(tmp)
        lock = threading.Lock()
        totals = {"spans": 0, "requests": 0, "bad_parent": 0}

        def write_counts():
            tmpname = count_file + ".tmp"
            with open(tmpname, "w") as f:
                f.write(f"{totals['spans']} {totals['requests']} {totals['bad_parent']}\n")
            os.replace(tmpname, count_file)

        def export(request, context):
            n = bad = 0
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        n += 1
                        # every probe span is parented from the same W3C traceparent
                        if span.trace_id.hex() != "0af7651916cd43dd8448eb211c80319c" or \
                                span.parent_span_id.hex() != "b7ad6b7169203331" or len(span.attributes) != 3:
                            bad += 1
            with lock:
                totals["spans"] += n
                totals["requests"] += 1
                totals["bad_parent"] += bad
                write_counts()
            return pb.ExportTraceServiceResponse()

        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(
                export,
                request_deserializer=pb.ExportTraceServiceRequest.FromString,
                response_serializer=pb.ExportTraceServiceResponse.SerializeToString)})
        from concurrent import futures
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        server.add_generic_rpc_handlers((handler,))
        if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
            sys.exit(f"collector: cannot listen on 127.0.0.1:{port}")
        with lock:
            write_counts()
        server.start()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait(max_seconds)
        server.stop(1).wait()
        print(f"collector: {totals['spans']} spans in {totals['requests']} requests, "
              f"{totals['bad_parent']} not parented as sent", flush=True)


if __name__ == "__main__":
    main()
