using Microsoft.AspNetCore.Mvc;

namespace OrleansCompute.Host.Api;

/// <summary>The problem document every refusal of the <c>/api</c> routes answers with: its reason (also its title), and the field at fault when there is one.</summary>
internal static class ProblemDocuments
{
    public static ValueTask<bool> WriteAsync(this IProblemDetailsService problems, HttpContext context, Exception exception,
        int status, string reason, string detail, string? field = null)
    {
        context.Response.StatusCode = status;
        var problem = new ProblemDetails { Status = status, Title = reason, Detail = detail };
        problem.Extensions["reason"] = reason;
        if (field is not null) problem.Extensions["field"] = field;
        return problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }
}
