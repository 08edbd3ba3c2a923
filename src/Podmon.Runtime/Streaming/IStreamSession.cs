namespace Podmon.Streaming;

/// <summary>
/// What runs behind an upgraded connection (exec, attach, port-forward). Called on the loop
/// thread by its <see cref="StreamConnection"/>.
/// </summary>
interface IStreamSession
{
    /// <summary>The 101 answer is queued: start (spawn, join, connect) and send through the connection.</summary>
    void Start(StreamConnection connection);

    /// <summary>Whether the client's data on <paramref name="channel"/> is handed over piece by piece as it arrives (stdin, port data) rather than as whole messages (resize, stream close).</summary>
    bool Streams(int channel);

    /// <summary>Client data on a channel (a piece of a message, or the whole one); false: take no more until the session calls <see cref="StreamConnection.ResumeInput"/>.</summary>
    bool OnData(int channel, ReadOnlySpan<byte> data);

    /// <summary>The connection has too much queued output (true) or has drained it (false): stop or resume the source.</summary>
    void OnOutputHeld(bool hold);

    /// <summary>The client left or broke the protocol before the session finished; the connection is gone.</summary>
    void OnClientGone();
}
