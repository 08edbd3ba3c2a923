using System.Reflection;
using Xunit.Sdk;

[assembly: Podmon.IntegrationTests.RequiresIntegrationHost]

namespace Podmon.IntegrationTests;

/// <summary>
/// What every integration test needs of the host: root (they run containers with runc, mount tmpfs,
/// join and pin namespaces, write cgroups) and the published binary. Checked once; without them each
/// test fails with this one message instead of somewhere deep in runc, mount or a socket.
/// </summary>
public static class IntegrationHost
{
    static readonly Lazy<string?> _problem = new(Check);

    /// <summary>Throws, saying what is missing and what to do, unless the host can run the integration tests.</summary>
    public static void Require()
    {
        if (_problem.Value is string problem) throw new IntegrationHostException(problem);
    }

    static string? Check()
    {
        var missing = new List<string>();
        if (!Environment.IsPrivilegedProcess)
            missing.Add($"root (this process runs as uid {EffectiveUid()}; CI runs them as root, through tests/run.sh)");
        if (!PodmonProcess.TryLocate(out _, out string binaryProblem))
            missing.Add(binaryProblem);
        return missing.Count == 0 ? null
            : "Podmon.IntegrationTests cannot run on this host; they need " + string.Join("; and ", missing)
              + ". The unit tests (tests/Podmon.Tests, tests/Podmon.Capnp.Tests) need neither.";
    }

    static string EffectiveUid()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
                return line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]; // the effective uid
        return "?";
    }
}

public sealed class IntegrationHostException(string message) : Exception(message);

/// <summary>Runs <see cref="IntegrationHost.Require"/> before every test of the assembly (class fixtures call it themselves: they run first).</summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class RequiresIntegrationHostAttribute : BeforeAfterTestAttribute
{
    public override void Before(MethodInfo methodUnderTest) => IntegrationHost.Require();
}
