-- nyeshc for Neovim 0.10+ with no plugins: the set-up from docs/editors.md, as a file.
-- Use it as is (`nvim -u editors/nvim/init.lua film.nysh`) or copy it into your init.lua.
vim.filetype.add({ extension = { nysh = "nysh" } })
vim.api.nvim_create_autocmd("FileType", {
  pattern = "nysh",
  callback = function(args)
    vim.lsp.start({
      name = "nyeshc",
      cmd = vim.g.nyeshc_cmd or { "nyeshc", "lsp" },
      root_dir = vim.fs.dirname(vim.api.nvim_buf_get_name(args.buf)),
    })
  end,
})
-- show diagnostics beside the line (Neovim 0.11 shows only signs by default)
vim.diagnostic.config({ virtual_text = true, signs = true, underline = true })
