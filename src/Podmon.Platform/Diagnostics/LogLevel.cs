namespace Podmon.Diagnostics;

/// <summary>How much the monitor logs of itself (the command lines map their strings to it).</summary>
public enum LogLevel { Trace, Debug, Info, Warn, Error, Off }

/// <summary>Where the monitor's own log goes.</summary>
public enum LogDriverKind { Stdout, Systemd, None }
