namespace Podmon.Capnp.Rpc;

/// <summary>A capability served by this vat: one interface, methods by ordinal.</summary>
public interface ICapability
{
    ulong InterfaceId { get; }

    /// <summary>
    /// Handles one call. <paramref name="parameters"/> (the params struct) is only valid during
    /// this call: copy what an answer given later needs. Answer through <paramref name="call"/>
    /// now or later (<see cref="RpcCall.Return"/>, <see cref="RpcCall.Fail"/>); an exception
    /// thrown here becomes a failed Return.
    /// </summary>
    void Dispatch(ushort methodId, StructReader parameters, RpcCall call);
}

/// <summary>Where the session's outgoing frames go (the transport buffers what it cannot write yet).</summary>
public interface IRpcOutput
{
    void Send(ReadOnlySpan<byte> frame);
}

/// <summary>A peer broke the RPC protocol: the connection is aborted with this reason.</summary>
public sealed class RpcProtocolException(string message) : Exception(message);
