namespace Podmon.Loop;

/// <summary>A registered fd; pass it back to modify or remove the registration.</summary>
public readonly record struct Registration(int Fd, ulong Key)
{
    public bool IsValid => Key != 0;
}
