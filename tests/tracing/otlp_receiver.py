#!/usr/bin/python3
"""An OTLP/gRPC trace receiver for podmon's tests, on Debian's grpcio and protobuf.

Serves opentelemetry.proto.collector.trace.v1.TraceService/Export with message classes that
protoc generates at start from the .proto files in --proto-dir (tests/fixtures/otlp), through a
generic RPC handler, so no grpc python plugin is needed. Every span received is written as one
JSON line (to --out, or stdout): trace and span ids in hex, parent span id, name, kind,
attributes, status, flags, trace state, times, the resource's attributes and the scope's name.

Once listening it prints "listening on HOST:PORT" to stdout (before any span line), and one line
per call to stderr ("call N: S spans, answered OK" / "answered CODE" / "stalled"). --mode says
how to answer: ok (the default), error (grpc status --code with --message, every time), stall
(accept the call and never answer), error-then-ok (--code for the first --count calls, then ok).
--max-connection-age-ms makes grpc end each connection with GOAWAY after that long.

Run with /usr/bin/python3: python3-grpcio and python3-protobuf are Debian packages.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from concurrent import futures

import grpc


def generate(proto_dir):
    out = tempfile.mkdtemp(prefix="otlp-pb2-")
    protos = []
    for root, _, files in os.walk(os.path.join(proto_dir, "opentelemetry")):
        protos += [os.path.relpath(os.path.join(root, f), proto_dir) for f in files if f.endswith(".proto")]
    subprocess.run(["protoc", "-I", proto_dir, "--python_out=" + out] + sorted(protos), check=True)
    sys.path.insert(0, out)
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    return trace_service_pb2


def any_value(v):
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bytes_value":
        return v.bytes_value.hex()
    if kind is None:
        return None
    return "<%s>" % kind


def attributes(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def span_lines(request):
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                yield {
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(),
                    "trace_state": s.trace_state,
                    "name": s.name,
                    "kind": s.kind,
                    "start_time_unix_nano": s.start_time_unix_nano,
                    "end_time_unix_nano": s.end_time_unix_nano,
                    "attributes": attributes(s.attributes),
                    "dropped_attributes_count": s.dropped_attributes_count,
                    "status": {"code": s.status.code, "message": s.status.message},
                    "flags": s.flags,
                    "resource": resource,
                    "scope": ss.scope.name,
                }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proto-dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--out", help="file for the span lines (default: stdout)")
    p.add_argument("--mode", choices=["ok", "error", "stall", "error-then-ok"], default="ok")
    p.add_argument("--code", default="UNAVAILABLE", help="grpc status name for the error modes")
    p.add_argument("--message", default="test receiver refuses")
    p.add_argument("--count", type=int, default=1, help="error-then-ok: how many calls fail")
    p.add_argument("--max-connection-age-ms", type=int, default=0)
    args = p.parse_args()

    pb2 = generate(args.proto_dir)
    out = open(args.out, "a", buffering=1) if args.out else sys.stdout
    lock = threading.Lock()
    calls = [0]
    stalled = threading.Event()

    def export(request, context):
        with lock:
            calls[0] += 1
            n = calls[0]
        spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        if args.mode == "stall":
            print("call %d: %d spans, stalled" % (n, spans), file=sys.stderr, flush=True)
            stalled.wait()  # never set: the client gives up
            return pb2.ExportTraceServiceResponse()
        if args.mode == "error" or (args.mode == "error-then-ok" and n <= args.count):
            print("call %d: %d spans, answered %s" % (n, spans, args.code), file=sys.stderr, flush=True)
            context.set_code(getattr(grpc.StatusCode, args.code))
            context.set_details(args.message)
            return pb2.ExportTraceServiceResponse()
        print("call %d: %d spans, answered OK" % (n, spans), file=sys.stderr, flush=True)
        with lock:
            for line in span_lines(request):
                out.write(json.dumps(line, sort_keys=True) + "\n")
            out.flush()
        return pb2.ExportTraceServiceResponse()

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(
            export,
            request_deserializer=pb2.ExportTraceServiceRequest.FromString,
            response_serializer=pb2.ExportTraceServiceResponse.SerializeToString)})
    options = []
    if args.max_connection_age_ms:
        options += [("grpc.max_connection_age_ms", args.max_connection_age_ms),
                    ("grpc.max_connection_age_grace_ms", 1000)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), handlers=[handler], options=options)
    port = server.add_insecure_port("%s:%d" % (args.host, args.port))
    if port == 0:
        sys.exit("otlp_receiver: cannot listen on %s:%d" % (args.host, args.port))
    server.start()
    print("listening on %s:%d" % (args.host, port), flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
