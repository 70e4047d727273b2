namespace Superalign.Optimization;

/// <summary>Metric names: those shared with Hugging Face TRL, and this library's own.</summary>
public static class MetricNames
{
    /// <summary>Mean implicit reward of the chosen responses.</summary>
    public const string RewardsChosen = "rewards/chosen";

    /// <summary>Mean implicit reward of the rejected responses.</summary>
    public const string RewardsRejected = "rewards/rejected";

    /// <summary>Mean of chosen minus rejected rewards.</summary>
    public const string RewardsMargins = "rewards/margins";

    /// <summary>Fraction of pairs whose chosen reward strictly exceeds the rejected one.</summary>
    public const string RewardsAccuracies = "rewards/accuracies";

    /// <summary>Mean policy log-prob of the chosen responses.</summary>
    public const string LogpsChosen = "logps/chosen";

    /// <summary>Mean policy log-prob of the rejected responses.</summary>
    public const string LogpsRejected = "logps/rejected";

    /// <summary>Fraction of scored positions where the student's argmax equals the hard target.</summary>
    public const string CompetenceAccuracy = "competence/accuracy";

    /// <summary>
    /// Cosine between the competence gradient g_c and the conformity gradient g_f of the step (0 when either is zero):
    /// negative when the two objectives pull the weights apart.
    /// </summary>
    public const string ConflictCosine = "conflict/cosine";

    /// <summary>The dot product g_c·g_f.</summary>
    public const string ConflictDot = "conflict/dot";

    /// <summary>|g_c|: norm of the gradient of the (unweighted, micro-batch mean) competence loss.</summary>
    public const string ConflictCompetenceNorm = "conflict/competence_norm";

    /// <summary>|g_f|: norm of the gradient of the (unweighted, micro-batch mean) conformity loss.</summary>
    public const string ConflictConformityNorm = "conflict/conformity_norm";

    /// <summary>
    /// 1 when <see cref="ConflictMode.ProjectConflicting"/> found g_c·g_f &lt; 0 and projected, 0 otherwise; reported on
    /// the joint steps of that mode.
    /// </summary>
    public const string ConflictProjected = "conflict/projected";

    /// <summary>
    /// MGDA's α* in [0, 1], the share of the (weighted) competence gradient in the min-norm direction; reported on the
    /// joint steps of <see cref="ConflictMode.MinNorm"/>.
    /// </summary>
    public const string ConflictMinNormAlpha = "conflict/mgda_alpha";

    /// <summary>On a direction-search step: the index of the winning candidate in <see cref="DirectionSearchOptions.Candidates"/>.</summary>
    public const string SearchWinner = "search/winner";

    /// <summary>On a direction-search step: 1 when the winner raised neither probe loss, else 0.</summary>
    public const string SearchParetoImprovement = "search/pareto";

    /// <summary>On a direction-search step: the competence probe loss before the update.</summary>
    public const string SearchProbeCompetence = "search/probe_competence";

    /// <summary>On a direction-search step: the conformity probe loss before the update.</summary>
    public const string SearchProbeConformity = "search/probe_conformity";

    /// <summary>On a direction-search step: the change of the competence probe loss the winner's update caused.</summary>
    public const string SearchCompetenceChange = "search/competence_change";

    /// <summary>On a direction-search step: the change of the conformity probe loss the winner's update caused.</summary>
    public const string SearchConformityChange = "search/conformity_change";
}
