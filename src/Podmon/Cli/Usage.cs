namespace Podmon.Cli;

public static class Usage
{
    public const string Text = """
        podmon: an OCI container runtime monitor for a whole pod (conmon-rs compatible server)

        Usage: podmon [OPTIONS] [COMMAND]

        Commands:
          pause  Pin the pod's namespaces to the file system

        Options:
          -v, --version [<VERBOSITY>]       Show version information, "full" for verbose output [env: CONMON_VERSION=] [possible values: default, full]
              --version-json [<VERBOSITY>]  Same, as one JSON object
          -l, --log-level <LEVEL>           The logging level of the server [env: CONMON_LOG_LEVEL=] [default: info] [possible values: trace, debug, info, warn, error, off]
          -d, --log-driver <DRIVER>         Where the server logs [env: CONMON_LOG_DRIVER=] [default: systemd] [possible values: stdout, systemd, none]
          -r, --runtime <RUNTIME>           Binary path of the OCI runtime [env: CONMON_RUNTIME=]
              --runtime-dir <RUNTIME_DIR>   Directory for the server's socket (conmon.sock) and pidfile [env: CONMON_RUNTIME_DIR=]
              --runtime-root <RUNTIME_ROOT> Root directory of the OCI runtime (--root) [env: CONMON_RUNTIME_ROOT=]
              --skip-fork                   Stay in the foreground [env: CONMON_SKIP_FORK=]
          -c, --cgroup-manager <MANAGER>    Default cgroup manager [env: CONMON_CGROUP_MANAGER=] [default: systemd] [possible values: systemd, cgroupfs]
          -e, --enable-tracing              Export OpenTelemetry traces (OTLP over gRPC) [env: CONMON_ENABLE_TRACING=]
          -t, --tracing-endpoint <URL>      The OTLP/gRPC collector [default: http://127.0.0.1:4317] [env: CONMON_TRACING_ENDPOINT=]
          -h, --help                        Print help

        Without --skip-fork the launcher returns once the server listens on <RUNTIME_DIR>/conmon.sock;
        <RUNTIME_DIR>/pidfile then holds the server's pid.

        """;
}
