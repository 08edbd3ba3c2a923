namespace Podmon.Cli;

/// <summary>What podmon does with an accepted option of <see cref="OptionTable"/>.</summary>
public enum OptionHandling
{
    /// <summary>It acts on it (<see cref="OptionSpec.What"/> says where).</summary>
    Acts,
    /// <summary>Accepted with its value and reported as ignored (a warning in podmon's own log), as the C conmon does with a feature it was built without.</summary>
    Ignored,
    /// <summary>A usage error; <see cref="OptionSpec.What"/> is the message.</summary>
    Rejected,
}
