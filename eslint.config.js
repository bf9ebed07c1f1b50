// Lint and format rules, run by `npm test` (`npm run lint`; `npm run lint:fix` applies the fixable ones).
// Formatting is @stylistic's rules rather than a separate formatter, so one tool checks both.
import js from "@eslint/js";
import stylistic from "@stylistic/eslint-plugin";
import globals from "globals";
import tseslint from "typescript-eslint";

const format = stylistic.configs.customize({
    indent: 4,
    quotes: "double",
    semi: true,
    braceStyle: "1tbs",
    arrowParens: true,
    commaDangle: "always-multiline",
    quoteProps: "as-needed",
});

export default tseslint.config(
    { ignores: ["dist/", "node_modules/", "storage/", "models/", "tests/artifacts/", "bench/results/"] },
    js.configs.recommended,
    format,
    {
        rules: {
            "@stylistic/max-len": ["error", { code: 180, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreComments: false }],
            "@stylistic/operator-linebreak": ["error", "after", { overrides: { "?": "before", ":": "before" } }],
            eqeqeq: ["error", "always", { null: "ignore" }],
        },
    },
    {
        files: ["**/*.ts"],
        extends: [tseslint.configs.strict, tseslint.configs.stylistic],
        rules: {
            "@typescript-eslint/no-explicit-any": "error",
            // With noUncheckedIndexedAccess, `!` marks an index known to be in range: fewer checks that cannot fail.
            "@typescript-eslint/no-non-null-assertion": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
        },
    },
    {
        files: ["web/**/*.js"],
        languageOptions: { globals: globals.browser },
    },
    {
        files: ["eslint.config.js"],
        languageOptions: { globals: globals.node },
    },
);
