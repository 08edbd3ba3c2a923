namespace Podmon.Pod;

/// <summary>The answer of createNamespaces: the pause process and every kind's pin, in <see cref="NamespaceKinds.All"/> order.</summary>
public sealed record PinnedNamespaces(int PausePid, IReadOnlyList<(NamespaceKind Kind, string Path)> Paths);
