using Podmon.Cli;
using Podmon.Diagnostics;
using Podmon.Hosting;
using Podmon.Server;
using Podmon.Sys;

namespace Podmon;

public static class Program
{
    public static int Main(string[] args)
    {
        // native/early.c has already blocked our signals and, for a server without
        // --skip-fork, forked: this is then the daemon and readyFd reaches the waiting launcher.
        int readyFd = EarlyNative.ReadyFd();
        // conmon mode (native/early.c decided, see docs/architecture.md "Modes"): the C conmon's contract.
        if (EarlyNative.StartupMode() == ConmonMode)
        {
            // Started before the engine's cgroup move: nothing the monitor does may happen outside it.
            // Also takes conmon mode's GC settings out of the environment the runtime and exit commands inherit.
            EarlyNative.ConmonAwaitGo();
            return ConmonCli.ConmonMonitor.Run(args, readyFd);
        }
        // podman's probe: stdout must start with "conmon version X.Y.Z" (≥ 2.0.1), status 0.
        if (args is ["--version"])
        {
            Log.Stdout($"conmon version {ConmonCompatVersion}\ncommit: podmon {VersionInfo.Version} ({VersionInfo.Commit})\n" + VersionInfo.Text(false));
            return 0;
        }
        try
        {
            Command cmd = CommandLine.Parse(args, Environment.GetEnvironmentVariable);
            switch (cmd.Kind)
            {
                case CommandKind.Help:
                    Log.Stdout(Usage.Text);
                    return 0;
                case CommandKind.Version:
                    Log.Stdout(VersionInfo.Text(cmd.Verbosity == VersionVerbosity.Full));
                    return 0;
                case CommandKind.VersionJson:
                    Log.Stdout(VersionInfo.Json(cmd.Verbosity == VersionVerbosity.Full));
                    return 0;
                default:
                    return RunServer(cmd, readyFd);
            }
        }
        catch (UsageException e)
        {
            return Fail(readyFd, 2, e.Message);
        }
        catch (Exception e)
        {
            return Fail(readyFd, 1, ErrorText.Describe(e));
        }
    }

    const int ConmonMode = 3; // PM_MODE_CONMON in native/podmon.h

    /// <summary>The C conmon release whose command-line contract conmon mode implements.</summary>
    public const string ConmonCompatVersion = "2.1.6";

    static int RunServer(Command cmd, int readyFd)
    {
        ServerOptions options = cmd.Server;
        ServerHost.Validate(options);
        Log.Configure(options.LogDriver, options.LogLevel);
        foreach (string name in cmd.Ignored) Log.Warn($"{name}: not supported by podmon, ignored");
        using var host = new ServerHost(options);
        host.Start();
        MonitorHost.NotifyLauncher(readyFd, "listening\n");
        host.Run();
        Log.Info("podmon stopped");
        return 0;
    }

    static int Fail(int readyFd, int code, string message)
    {
        if (readyFd >= 0) MonitorHost.NotifyLauncher(readyFd, $"error {code} podmon: error: {message}\n");
        else Log.Stderr($"podmon: error: {message}");
        return code;
    }
}
