using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using OrleansCompute.Abstractions;

namespace OrleansCompute.Host.Api;

/// <summary>Turns a grain's <see cref="MarketException"/> into a problem document naming the field and the reason.</summary>
public sealed class MarketExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not MarketException rejected) return false;

        context.Response.StatusCode = rejected.Error switch
        {
            MarketError.InvalidRequest => StatusCodes.Status400BadRequest,
            MarketError.NotFound => StatusCodes.Status404NotFound,
            MarketError.NotYourLease => StatusCodes.Status403Forbidden,
            _ => StatusCodes.Status409Conflict,
        };
        var problem = new ProblemDetails
        {
            Status = context.Response.StatusCode,
            Title = rejected.Reason,
            Detail = rejected.Message,
        };
        problem.Extensions["reason"] = rejected.Reason;
        if (rejected.Field is not null) problem.Extensions["field"] = rejected.Field;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }
}
