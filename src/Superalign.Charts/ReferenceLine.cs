namespace Superalign.Charts;

/// <summary>A dashed horizontal line such as chance level, a ceiling or a weak supervisor's score, named in the legend.</summary>
/// <param name="Label">The name in the legend.</param>
/// <param name="Y">Where it is drawn.</param>
public sealed record ReferenceLine(string Label, double Y);
