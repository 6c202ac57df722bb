// The VS Code client: starts `nyeshc lsp` (stdio) for .nysh files.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("nysh");
  const [command, ...args] = config.get("server.command", ["nyeshc", "lsp"]);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "nysh" }],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.nysh") },
  };
  client = new LanguageClient("nysh", "nysh language server", serverOptions, clientOptions);
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
