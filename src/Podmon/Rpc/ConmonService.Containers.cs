using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Containers;
using Podmon.Logging;
using Podmon.Schema;
using Podmon.Sys;
using LogType = Podmon.Logging.LogDriverType;
using SchemaLogType = Podmon.Schema.LogDriverType;

namespace Podmon.Rpc;

/// <summary>createContainer and execSyncContainer: answered when the runtime is done.</summary>
public sealed partial class ConmonService
{
    void CreateContainer(StructReader parameters, RpcCall call)
    {
        var r = new CreateContainerRequestReader(Request(ConmonMethod.CreateContainer, parameters, out bool old), old);
        if (!TryLogDrivers(r.LogDrivers, out LogDriverConfig[] logDrivers, out string? logError))
        {
            call.Fail(logError!); // this call only: the request was well-formed, just not one podmon can serve
            return;
        }
        if (!TryTakeFds(r.AdditionalFds, r.LeakFds, out OwnedFd[] additionalFds, out OwnedFd[] leakFds, out string? fdError))
        {
            call.Fail(fdError!);
            return;
        }
        var request = new CreateRequest
        {
            Id = r.IdString,
            BundlePath = r.BundlePathString,
            Terminal = r.Terminal,
            Stdin = r.Stdin,
            ExitPaths = Strings(r.ExitPaths),
            OomExitPaths = Strings(r.OomExitPaths),
            LogDrivers = logDrivers,
            CleanupCmd = Strings(r.CleanupCmd),
            GlobalArgs = Strings(r.GlobalArgs),
            CommandArgs = Strings(r.CommandArgs),
            EnvVars = Pairs(r.EnvVars),
            CgroupManager = CgroupManagerOf(r.CgroupManager),
            AdditionalFds = additionalFds,
            LeakFds = leakFds,
            Trace = _callSpan,
        };
        RpcCall later = call.Defer();
        containers.Create(request, result =>
        {
            if (!result.Succeeded) foreach (OwnedFd fd in leakFds) fd.Dispose(); // a create that failed early never owned them
            if (!later.IsActive) return;
            if (!result.Succeeded)
            {
                later.Fail(result.Error!);
                return;
            }
            var response = new CreateContainerResultsBuilder(later.InitResults(CreateContainerResultsBuilder.DataWords, CreateContainerResultsBuilder.PointerCount)).InitResponse();
            response.ContainerPid = (uint)result.ContainerPid;
            later.Return();
        });
    }

    void ExecSync(StructReader parameters, RpcCall call)
    {
        var r = new ExecSyncContainerRequestReader(Request(ConmonMethod.ExecSyncContainer, parameters, out bool old), old);
        var request = new ExecSyncRequest
        {
            Id = r.IdString,
            Command = Strings(r.Command),
            TimeoutSec = r.TimeoutSec,
            Terminal = r.Terminal,
            EnvVars = Pairs(r.EnvVars),
            CgroupManager = CgroupManagerOf(r.CgroupManager),
            Trace = _callSpan,
        };
        RpcCall later = call.Defer();
        containers.ExecSync(request, result =>
        {
            using var owned = result; // the output is copied once, into the reply, then its buffers go back
            if (!later.IsActive) return;
            var response = new ExecSyncContainerResultsBuilder(later.InitResults(ExecSyncContainerResultsBuilder.DataWords, ExecSyncContainerResultsBuilder.PointerCount)).InitResponse();
            response.ExitCode = result.ExitCode;
            response.SetStdout(result.Stdout);
            // Where the process never ran (-2, as conmon-rs answers), stderr says why.
            if (result.Error is not null && result.Stderr.Length == 0) response.SetStderr(System.Text.Encoding.UTF8.GetBytes(result.Error));
            else response.SetStderr(result.Stderr);
            response.TimedOut = result.TimedOut;
            later.Return();
        });
    }

    static string[] Strings(TextListReader list)
    {
        if (list.Count == 0) return [];
        var result = new string[list.Count];
        for (int i = 0; i < result.Length; i++) result[i] = list.GetString(i);
        return result;
    }

    static KeyValuePair<string, string>[] Pairs(TextTextMapEntryListReader list)
    {
        if (list.Count == 0) return [];
        var result = new KeyValuePair<string, string>[list.Count];
        for (int i = 0; i < result.Length; i++)
        {
            TextTextMapEntryReader e = list[i];
            result[i] = new(e.KeyString, e.ValueString);
        }
        return result;
    }

    static bool TryLogDrivers(LogDriverListReader list, out LogDriverConfig[] result, out string? error)
    {
        result = [];
        error = null;
        if (list.Count == 0) return true;
        var drivers = new LogDriverConfig[list.Count];
        for (int i = 0; i < drivers.Length; i++)
        {
            LogDriverReader d = list[i];
            LogType type;
            switch (d.Type)
            {
                case SchemaLogType.ContainerRuntimeInterface: type = LogType.ContainerRuntimeInterface; break;
                case SchemaLogType.Json: type = LogType.Json; break;
                case SchemaLogType.Journald: type = LogType.Journald; break;
                default:
                    error = $"logDrivers[{i}]: unknown log driver type {(ushort)d.Type} (podmon knows containerRuntimeInterface, json and journald)";
                    return false;
            }
            drivers[i] = new LogDriverConfig(type, d.HasPath ? d.PathString : null, d.MaxSize);
        }
        result = drivers;
        return true;
    }
}
