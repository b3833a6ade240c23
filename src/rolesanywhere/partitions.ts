/**
 * The AWS partitions as the SDK endpoint rules know them, for building the regional Roles Anywhere
 * host name. A region is looked up in every partition's explicit list first, then matched against the
 * partitions' region patterns in order; anything else belongs to the `aws` partition.
 */
export interface Partition {
  readonly name: string;
  readonly regionPattern: RegExp;
  readonly dnsSuffix: string;
  readonly dualStackDnsSuffix: string;
  readonly supportsFips: boolean;
  readonly supportsDualStack: boolean;
  readonly regions: readonly string[];
}

export const PARTITIONS: readonly Partition[] = [
  {
    name: "aws",
    regionPattern: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/,
    dnsSuffix: "amazonaws.com",
    dualStackDnsSuffix: "api.aws",
    supportsFips: true,
    supportsDualStack: true,
    regions: [
      "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
      "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "aws-global", "ca-central-1",
      "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
      "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1",
      "us-east-2", "us-west-1", "us-west-2",
    ],
  },
  {
    name: "aws-cn",
    regionPattern: /^cn-\w+-\d+$/,
    dnsSuffix: "amazonaws.com.cn",
    dualStackDnsSuffix: "api.amazonwebservices.com.cn",
    supportsFips: true,
    supportsDualStack: true,
    regions: ["aws-cn-global", "cn-north-1", "cn-northwest-1"],
  },
  {
    name: "aws-us-gov",
    regionPattern: /^us-gov-\w+-\d+$/,
    dnsSuffix: "amazonaws.com",
    dualStackDnsSuffix: "api.aws",
    supportsFips: true,
    supportsDualStack: true,
    regions: ["aws-us-gov-global", "us-gov-east-1", "us-gov-west-1"],
  },
  {
    name: "aws-iso",
    regionPattern: /^us-iso-\w+-\d+$/,
    dnsSuffix: "c2s.ic.gov",
    dualStackDnsSuffix: "c2s.ic.gov",
    supportsFips: true,
    supportsDualStack: false,
    regions: ["aws-iso-global", "us-iso-east-1", "us-iso-west-1"],
  },
  {
    name: "aws-iso-b",
    regionPattern: /^us-isob-\w+-\d+$/,
    dnsSuffix: "sc2s.sgov.gov",
    dualStackDnsSuffix: "sc2s.sgov.gov",
    supportsFips: true,
    supportsDualStack: false,
    regions: ["aws-iso-b-global", "us-isob-east-1"],
  },
  {
    name: "aws-iso-e",
    regionPattern: /^eu-isoe-\w+-\d+$/,
    dnsSuffix: "cloud.adc-e.uk",
    dualStackDnsSuffix: "cloud.adc-e.uk",
    supportsFips: true,
    supportsDualStack: false,
    regions: ["eu-isoe-west-1"],
  },
  {
    name: "aws-iso-f",
    regionPattern: /^us-isof-\w+-\d+$/,
    dnsSuffix: "csp.hci.ic.gov",
    dualStackDnsSuffix: "csp.hci.ic.gov",
    supportsFips: true,
    supportsDualStack: false,
    regions: [],
  },
];

/** The partition a region belongs to (the `aws` partition for regions nobody claims). */
export function partitionOf(region: string, partitions: readonly Partition[] = PARTITIONS): Partition {
  return (
    partitions.find((p) => p.regions.includes(region)) ??
    partitions.find((p) => p.regionPattern.test(region)) ??
    partitions.find((p) => p.name === "aws") ??
    PARTITIONS[0]!
  );
}

/** True for a region of a partition's list, or one its pattern admits (regions opened after this release). */
export function isKnownRegion(region: string, partitions: readonly Partition[] = PARTITIONS): boolean {
  return partitions.some((p) => p.regions.includes(region) || p.regionPattern.test(region));
}

/** Every region name of every partition (the global pseudo-regions left out), for suggestions. */
export function knownRegionNames(partitions: readonly Partition[] = PARTITIONS): string[] {
  return partitions.flatMap((p) => p.regions.filter((r) => !r.endsWith("-global")));
}
