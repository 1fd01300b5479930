using OrleansCompute.Cli;

return await OccApp.RunAsync(args, Console.Out, Console.Error);
