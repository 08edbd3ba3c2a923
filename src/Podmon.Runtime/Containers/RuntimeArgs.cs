using Podmon.Diagnostics;

namespace Podmon.Containers;

/// <summary>
/// The OCI runtime's command lines, in conmon-rs's order:
/// create: [crun log flags] [--root=R] [--systemd-cgroup] globalArgs… create|restore --bundle B
/// --pid-file P commandArgs… [--console-socket=S] ID;
/// exec-sync: [crun log flags] [--root=R] [--systemd-cgroup] exec -d [--console-socket=S --tty]
/// --pid-file=P ID command…
/// (conmon-rs repeats --root and --systemd-cgroup for create; once is enough.)
/// </summary>
public static class RuntimeArgs
{
    public static List<string> Create(EngineOptions o, string id, string bundle, string pidfile, string? consoleSocket,
        IReadOnlyList<string> globalArgs, IReadOnlyList<string> commandArgs, CgroupManager cgroupManager, bool restore = false)
    {
        List<string> args = Global(o, id, globalArgs, cgroupManager);
        args.AddRange([restore ? "restore" : "create", "--bundle", bundle, "--pid-file", pidfile]);
        args.AddRange(commandArgs);
        if (consoleSocket is not null) args.Add($"--console-socket={consoleSocket}");
        args.Add(id);
        return args;
    }

    /// <summary>The runtime's path and every flag that goes before the subcommand, as for create.</summary>
    public static List<string> Global(EngineOptions o, string id, IReadOnlyList<string> globalArgs, CgroupManager cgroupManager)
    {
        List<string> args = Default(o, id, cgroupManager);
        args.AddRange(globalArgs);
        return args;
    }

    /// <summary>conmon's exec: [defaults] globalArgs… exec --pid-file P --process SPEC --detach execArgs… [--console-socket=S] ID.</summary>
    public static List<string> ExecProcess(EngineOptions o, string id, string pidfile, string processSpec, string? consoleSocket,
        IReadOnlyList<string> globalArgs, IReadOnlyList<string> execArgs, CgroupManager cgroupManager)
    {
        List<string> args = Default(o, id, cgroupManager);
        args.AddRange(globalArgs);
        args.AddRange(["exec", "--pid-file", pidfile, "--process", processSpec, "--detach"]);
        args.AddRange(execArgs);
        if (consoleSocket is not null) args.Add($"--console-socket={consoleSocket}");
        args.Add(id);
        return args;
    }

    public static List<string> ExecSync(EngineOptions o, string id, string pidfile, string? consoleSocket,
        IReadOnlyList<string> command, CgroupManager cgroupManager)
    {
        List<string> args = Default(o, id, cgroupManager);
        args.AddRange(["exec", "-d"]);
        if (consoleSocket is not null) args.AddRange([$"--console-socket={consoleSocket}", "--tty"]);
        args.Add($"--pid-file={pidfile}");
        args.Add(id);
        args.AddRange(command);
        return args;
    }

    static List<string> Default(EngineOptions o, string id, CgroupManager cgroupManager)
    {
        var args = new List<string> { o.RuntimePath };
        if (Path.GetFileName(o.RuntimePath) == "crun")
        {
            args.Add($"--log=journald:{id}");
            string? level = o.LogLevel switch
            {
                LogLevel.Debug => "debug", LogLevel.Error => "error", LogLevel.Warn => "warning", _ => null,
            };
            if (level is not null) args.Add($"--log-level={level}");
        }
        if (o.RuntimeRoot is not null) args.Add($"--root={o.RuntimeRoot}");
        if (cgroupManager == CgroupManager.Systemd) args.Add("--systemd-cgroup");
        return args;
    }

    /// <summary>podmon's environment with <paramref name="vars"/> added or replaced; null when there is nothing to add.</summary>
    public static List<string>? Environment(IReadOnlyList<KeyValuePair<string, string>> vars)
    {
        if (vars.Count == 0) return null;
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
            env[(string)e.Key] = (string?)e.Value ?? "";
        foreach (KeyValuePair<string, string> kv in vars)
        {
            if (kv.Key.Length == 0 || kv.Key.Contains('='))
                throw new ArgumentException($"invalid environment variable name '{kv.Key}'");
            env[kv.Key] = kv.Value;
        }
        var list = new List<string>(env.Count);
        foreach (KeyValuePair<string, string> kv in env) list.Add($"{kv.Key}={kv.Value}");
        return list;
    }
}
