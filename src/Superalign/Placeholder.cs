namespace Superalign;
/// <summary>Marker.</summary>
public static class Placeholder { }
