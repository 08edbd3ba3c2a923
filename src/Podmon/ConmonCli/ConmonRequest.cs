using Podmon.Cli;
using System.Globalization;
using Podmon.Containers;
using Podmon.Logging;
using Podmon.Sys;

namespace Podmon.ConmonCli;

/// <summary>
/// The C conmon's options as the engine's plain <see cref="CreateRequest"/>: log drivers, exit
/// files, the attach socket's place, runtime arguments, fds to hand on. Everything conmon mode
/// decides about a container before the runtime runs lives here.
/// </summary>
static class ConmonRequest
{
    public static CreateRequest Build(ConmonOptions o, SyncPipe pipes, Action? beforeRuntime)
    {
        string? bundle = o.Bundle; // null: an exec monitor started without -b (CRI-O's exec-sync)
        var drivers = new List<LogDriverConfig>();
        bool passthrough = false;
        ulong max = o.LogSizeMax > 0 ? (ulong)Math.Max(o.LogSizeMax, (long)ContainerLog.MinMaxSize) : 0;
        foreach (ConmonLogSpec l in o.Logs)
        {
            switch (l.Driver)
            {
                case "k8s-file":
                    drivers.Add(new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, l.Path, max, Append: true)
                    {
                        GlobalMaxSize = o.LogGlobalSizeMax > 0 ? (ulong)o.LogGlobalSizeMax : 0,
                    });
                    break;
                case "journald":
                    drivers.Add(new LogDriverConfig(LogDriverType.Journald) { JournalFields = JournalFields(o, l.Path) });
                    break;
                case "passthrough":
                    passthrough = true;
                    break;
            }
        }
        if (passthrough && (Libc.isatty(0) == 1 || Libc.isatty(1) == 1 || Libc.isatty(2) == 1))
            throw new UsageException("cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI");
        var commandArgs = new List<string>();
        if (o.NoPivot) commandArgs.Add("--no-pivot");
        if (o.NoNewKeyring) commandArgs.Add("--no-new-keyring");
        // restore: runc returns once the container runs; CRIU works (and logs) in the bundle.
        if (o.Restore is { } image) commandArgs.AddRange(["--detach", "--image-path", image, "--work-path", bundle!]);
        if (!o.Exec) commandArgs.AddRange(o.RuntimeOpts); // conmon passes --runtime-opt to create/restore too
        string cid = o.Cid!;
        var oom = new List<string>();
        if (bundle is not null) oom.Add(Path.Combine(bundle, "oom"));
        if (o.PersistDir is { } pd) oom.Add(Path.Combine(pd, "oom"));
        return new CreateRequest
        {
            Id = cid,
            BundlePath = bundle,
            PidFile = o.ContainerPidfile,
            Terminal = o.Terminal,
            // conmon: with a terminal, attach input always goes to the pty master, -i or not
            // (CRI-O passes -t alone for a tty container; `crictl attach -i` must reach its shell).
            Stdin = o.Stdin || o.Terminal,
            ExitPaths = ExitPaths(o),
            OomExitPaths = oom,
            LogDrivers = drivers,
            GlobalArgs = [.. o.RuntimeArgs],
            CommandArgs = commandArgs,
            CgroupManager = o.SystemdCgroup ? CgroupManager.Systemd : CgroupManager.Cgroupfs,
            ExecProcessSpec = o.Exec ? o.ExecProcessSpec : null,
            ExecArgs = [.. o.RuntimeOpts],
            AttachSocketPath = passthrough || bundle is null ? null : AttachPath(o, bundle),
            PassthroughStdio = passthrough,
            Restore = o.Restore is not null,
            AttachStopAfterStdinEof = o.Stdin && !o.LeaveStdinOpen,
            AttachDonePacket = false,
            BeforeRuntime = beforeRuntime,
            SyncLogOnExit = !o.NoSyncLog,
            AdditionalFds = PreservedFds(o.RuntimeOpts, pipes),
        };
    }

    /// <summary>conmon writes the exit code to PERSIST_DIR/exit and EXIT_DIR/&lt;cid&gt;.</summary>
    static List<string> ExitPaths(ConmonOptions o)
    {
        var paths = new List<string>();
        if (o.PersistDir is { } pd) paths.Add(Path.Combine(pd, "exit"));
        if (o.ExitDir is { } d) paths.Add(Path.Combine(d, o.Cid!));
        return paths;
    }

    /// <summary>journald fields: conmon's CONTAINER_TAG (--log-tag or the journald:TAG value), CONTAINER_NAME, --log-label NAME=value.</summary>
    static List<string> JournalFields(ConmonOptions o, string? tag)
    {
        var f = new List<string>();
        if ((tag ?? o.LogTag) is { Length: > 0 } t) f.AddRange([$"CONTAINER_TAG={t}", $"SYSLOG_IDENTIFIER={t}"]);
        if (o.Name is { Length: > 0 } n) f.Add($"CONTAINER_NAME={n}");
        foreach (string label in o.LogLabels)
            if (label.Contains('=')) f.Add(label);
        return f;
    }

    /// <summary>
    /// &lt;bundle&gt;/attach (--full-attach, or no --socket-dir-path); otherwise conmon's layout:
    /// DIR/&lt;cuuid&gt; is a symlink to the bundle and the socket is bound through it.
    /// </summary>
    static string AttachPath(ConmonOptions o, string bundle)
    {
        if (o.FullAttach || o.SocketDirPath is null) return Path.Combine(bundle, "attach");
        string name = o.Cuuid ?? o.Cid!;
        string link = Path.Combine(o.SocketDirPath, name);
        if (link.Length == 107) link = link[..^1]; // conmon shortens a 107-byte name by one
        try
        {
            Directory.CreateDirectory(o.SocketDirPath);
            File.Delete(link);
            File.CreateSymbolicLink(link, bundle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException($"attach socket link '{link}': {ErrorText.Describe(e)}", e);
        }
        return Path.Combine(link, "attach");
    }

    /// <summary>
    /// podman's --preserve-fds N (and LISTEN_FDS): it puts the fds at 3..N+2 in the monitor and passes
    /// `--runtime-opt --preserve-fds --runtime-opt N`; the runtime must find them at the same numbers.
    /// They are handed on and closed here once the runtime has them, as podman closes its copies.
    /// </summary>
    static List<OwnedFd> PreservedFds(IReadOnlyList<string> runtimeOpts, SyncPipe pipes)
    {
        string? value = null;
        for (int i = 0; i < runtimeOpts.Count; i++)
        {
            if (runtimeOpts[i] == "--preserve-fds" && i + 1 < runtimeOpts.Count) value = runtimeOpts[++i];
            else if (runtimeOpts[i].StartsWith("--preserve-fds=", StringComparison.Ordinal)) value = runtimeOpts[i]["--preserve-fds=".Length..];
        }
        if (value is null) return [];
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > 65_536)
            throw new UsageException($"--preserve-fds {value}: not a number of fds");
        var fds = new List<OwnedFd>(n);
        for (int fd = 3; fd < 3 + n; fd++)
        {
            if (pipes.Owns(fd))
                throw new UsageException($"--preserve-fds {n}: fd {fd} is the monitor's own sync, start or attach pipe");
            if (Libc.fcntl(fd, Libc.F_GETFD, 0) < 0)
                throw new UsageException($"--preserve-fds {n}: fd {fd} is not open in the monitor");
            fds.Add(new OwnedFd(fd));
        }
        return fds;
    }
}
