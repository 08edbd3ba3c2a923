namespace Podmon.ConmonCli;

/// <summary>One `-l` value: `k8s-file:PATH` (or a bare PATH), `journald:[TAG]`, `passthrough`, `none`.</summary>
public sealed record ConmonLogSpec(string Driver, string? Path);
