/**
 * A value loaded on first use and kept. A load that fails is forgotten, so the next use tries
 * again: a model file copied in after a failed start is found without a restart.
 */
export class LoadOnce<T> {
    private loading?: Promise<T>;

    public constructor(private readonly load: () => Promise<T>) {}

    public get(): Promise<T> {
        if (this.loading == null) {
            const loading = this.load();
            this.loading = loading;
            loading.catch(() => {
                if (this.loading === loading) this.loading = undefined;
            });
        }
        return this.loading;
    }
}
