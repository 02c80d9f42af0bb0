// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {EntryTree} from "./utils/EntryTree.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";

/// @dev A payee that tries to withdraw again while being paid, and records what it got.
contract ReentrantPayee {
    RevShare internal immutable target;
    bool public reentryPaid;
    uint256 public received;

    constructor(RevShare target_) {
        target = target_;
    }

    function withdraw() external {
        target.withdraw();
    }

    receive() external payable {
        received += msg.value;
        (bool ok,) = address(target).call(abi.encodeCall(RevShare.withdraw, ()));
        if (ok) reentryPaid = true;
    }
}

/// @dev A payee that refuses ETH.
contract RefusingPayee {
    function withdraw(RevShare target) external {
        target.withdraw();
    }

    function withdrawTo(RevShare target, address to) external {
        target.withdrawTo(to);
    }
}

/// @notice `fund` adds ETH to the round of the pool's current entry set; `claim` credits a proven payee entry with
/// its share by weight among the payee entries, less what it was already credited; `withdraw` pays out.
contract RevSharePayoutTest is RevShareFixture {
    uint256[] internal keys;
    address internal constant FUNDER = address(0xF00D);
    address internal constant ALICE = address(0xA11CE);
    address internal constant CAROL = address(0xCA401);

    function setUp() public {
        vm.warp(START);
        keys = keyRange(0, 1);
        revShare = deploy(keys, 1);
        vm.deal(FUNDER, 1000 ether);
    }

    /// @dev Submits `entries` as the pool's next report; returns its digest, the round its funds go to.
    function publish(RevShare.Entry[] memory entries) internal returns (bytes32) {
        (uint64 version, bytes32 last) = revShare.poolHead(COMMUNITY, POOL);
        return submit(poolReport(COMMUNITY, POOL, version + 1, last, entries), keys);
    }

    function fund(uint256 amount) internal {
        (, bytes32 pin) = revShare.poolHead(COMMUNITY, POOL);
        vm.prank(FUNDER);
        revShare.fund{value: amount}(COMMUNITY, POOL, pin);
    }

    /// @dev Claims entry `index` of `entries` in round `digest` with the independent tree's proof.
    function claim(bytes32 digest, RevShare.Entry[] memory entries, uint256 index) internal returns (uint256) {
        return revShare.claim(digest, EntryTree.leafOf(entries, index), EntryTree.proof(entries, index));
    }

    function threeEqualPayees() internal pure returns (RevShare.Entry[] memory entries) {
        entries = new RevShare.Entry[](3);
        entries[0] = RevShare.Entry("https://ilp.example.com/a", 1, address(0xA000));
        entries[1] = RevShare.Entry("https://ilp.example.com/b", 1, address(0xB000));
        entries[2] = RevShare.Entry("https://ilp.example.com/c", 1, address(0xC000));
    }

    // ------------------------------------------------------------------ fund and claim

    function test_claimsSplitTheRoundByWeightAmongPayeesOnly() public {
        RevShare.Entry[] memory entries = sampleEntries(); // alice 50 (payee), bob 30 (none), carol 20 (payee)
        bytes32 digest = publish(entries);
        vm.expectEmit(address(revShare));
        emit RevShare.PoolFunded(COMMUNITY, POOL, FUNDER, digest, 7 ether);
        fund(7 ether);
        (bytes32 root, uint256 payeeWeight, uint256 funded) = revShare.round(digest);
        assertEq(root, EntryTree.root(entries), "round root");
        assertEq(payeeWeight, 70, "round payee weight");
        assertEq(funded, 7 ether, "round funded");
        assertEq(revShare.balanceOf(ALICE), 0, "nothing is credited before a claim");
        vm.expectEmit(address(revShare));
        emit RevShare.PayeeCredited(ALICE, digest, 5 ether);
        assertEq(claim(digest, entries, 0), 5 ether, "alice's claim");
        assertEq(claim(digest, entries, 2), 2 ether, "carol's claim");
        assertEq(revShare.balanceOf(ALICE), 5 ether, "alice's balance");
        assertEq(revShare.balanceOf(CAROL), 2 ether, "carol's balance");
        bytes32 aliceLeaf = EntryTree.leafHash(EntryTree.leafOf(entries, 0));
        assertEq(revShare.claimed(digest, aliceLeaf), 5 ether, "alice's claimed record");
    }

    function test_anyoneMayClaimForAPayeeAndOnlyThePayeeIsCredited() public {
        RevShare.Entry[] memory entries = sampleEntries();
        bytes32 digest = publish(entries);
        fund(7 ether);
        vm.prank(address(0xD00D));
        claim(digest, entries, 0);
        assertEq(revShare.balanceOf(ALICE), 5 ether, "alice credited");
        assertEq(revShare.balanceOf(address(0xD00D)), 0, "the caller gets nothing");
    }

    function test_fundsToOneRoundAccumulateAndClaimsTakeTheDelta() public {
        RevShare.Entry[] memory entries = sampleEntries();
        bytes32 digest = publish(entries);
        fund(7 ether);
        assertEq(claim(digest, entries, 0), 5 ether, "alice's first claim");
        fund(14 ether);
        vm.prank(address(0xBEEF));
        fund(7 ether);
        (,, uint256 funded) = revShare.round(digest);
        assertEq(funded, 28 ether, "round funded after three funds");
        assertEq(claim(digest, entries, 0), 15 ether, "alice's second claim: 20 earned less 5 credited");
        assertEq(claim(digest, entries, 2), 8 ether, "carol's only claim: all she earned");
        assertEq(revShare.balanceOf(ALICE), 20 ether, "alice's balance");
        assertEq(revShare.balanceOf(CAROL), 8 ether, "carol's balance");
        bytes32 aliceLeaf = EntryTree.leafHash(EntryTree.leafOf(entries, 0));
        assertEq(revShare.claimed(digest, aliceLeaf), 20 ether, "alice's claimed record: all she earned so far");
    }

    function test_roundingLeavesLessThanOneWeiPerPayeeAndCatchesUpLater() public {
        RevShare.Entry[] memory entries = threeEqualPayees();
        bytes32 digest = publish(entries);
        fund(10);
        for (uint256 i; i < 3; ++i) {
            assertEq(claim(digest, entries, i), 3, "floor(10 / 3)");
        }
        fund(2);
        for (uint256 i; i < 3; ++i) {
            assertEq(claim(digest, entries, i), 1, "floor(12 / 3) less 3 credited");
        }
        assertEq(address(revShare).balance, 12, "contract holds every wei until withdrawn");
    }

    function testFuzz_claimsNeverCreditMoreThanFundedAndLeaveLessThanOneWeiPerPayee(
        uint256 salt,
        uint256 count,
        uint256 a,
        uint256 b
    ) public {
        count = bound(count, 1, 12);
        RevShare.Entry[] memory entries = new RevShare.Entry[](count);
        uint256 payees;
        for (uint256 i; i < count; ++i) {
            uint256 raw = uint256(keccak256(abi.encode(salt, i)));
            address payee = raw % 3 == 0 && i != 0 ? address(0) : address(uint160(0x1000 + i));
            if (payee != address(0)) ++payees;
            entries[i] = RevShare.Entry(
                string.concat("https://ilp.example.com/", vm.toString(i)), uint96(bound(raw >> 8, 1, 1e24)), payee
            );
        }
        bytes32 digest = publish(entries);
        a = bound(a, 1, 100 ether);
        b = bound(b, 1, 100 ether);
        uint256 credited;
        fund(a);
        credited += claimAll(digest, entries);
        assertLe(credited, a, "credited after the first fund");
        assertTrue(a - credited < payees, "less than one wei per payee left after the first fund");
        fund(b);
        credited += claimAll(digest, entries);
        assertLe(credited, a + b, "credited after both funds");
        assertTrue(a + b - credited < payees, "less than one wei per payee left after both funds");
        assertEq(address(revShare).balance, a + b, "contract holds all funded ETH");
    }

    /// @dev Claims every payee entry that has something to claim; returns the sum credited.
    function claimAll(bytes32 digest, RevShare.Entry[] memory entries) internal returns (uint256 credited) {
        (, uint256 payeeWeight, uint256 funded) = revShare.round(digest);
        for (uint256 i; i < entries.length; ++i) {
            if (entries[i].payee == address(0)) continue;
            bytes32 leaf = EntryTree.leafHash(EntryTree.leafOf(entries, i));
            if (funded * entries[i].weight / payeeWeight == revShare.claimed(digest, leaf)) continue;
            credited += claim(digest, entries, i);
        }
    }

    function test_fundsPinnedToAnOldRoundStayClaimableAfterANewReport() public {
        RevShare.Entry[] memory old = sampleEntries();
        bytes32 oldDigest = publish(old);
        fund(7 ether);
        RevShare.Entry[] memory next = sampleEntries();
        next[0].payee = address(0xBAD);
        bytes32 nextDigest = publish(next);
        fund(1 ether);
        assertEq(claim(oldDigest, old, 0), 5 ether, "alice claims the old round");
        assertEq(claim(oldDigest, old, 2), 2 ether, "carol claims the old round");
        assertEq(claim(nextDigest, next, 0), uint256(1 ether) * 50 / 70, "the new payee claims only the new round");
        bytes32 aliceLeaf = EntryTree.leafHash(EntryTree.leafOf(old, 0));
        bytes32[] memory aliceProof = EntryTree.proof(old, 0);
        RevShare.EntryLeaf memory alice = EntryTree.leafOf(old, 0);
        vm.expectRevert(abi.encodeWithSelector(RevShare.InvalidProof.selector, aliceLeaf));
        revShare.claim(nextDigest, alice, aliceProof);
    }

    // ------------------------------------------------------------------ refused funds and claims

    function test_fundPinnedToAnEarlierEntrySetReverts() public {
        publish(sampleEntries());
        (, bytes32 seen) = revShare.poolHead(COMMUNITY, POOL);
        RevShare.Entry[] memory redirected = sampleEntries();
        redirected[0].payee = address(0xBAD);
        bytes32 last = publish(redirected);
        vm.prank(FUNDER);
        vm.expectRevert(abi.encodeWithSelector(RevShare.StalePin.selector, last, seen));
        revShare.fund{value: 1 ether}(COMMUNITY, POOL, seen);
        assertEq(address(revShare).balance, 0, "nothing was funded to the set that landed first");
    }

    function test_fundRevertsOnPoolWithoutPayees() public {
        RevShare.Entry[] memory entries = sampleEntries();
        entries[0].payee = address(0);
        entries[2].payee = address(0);
        bytes32 pin = publish(entries);
        vm.prank(FUNDER);
        vm.expectRevert(abi.encodeWithSelector(RevShare.NoPayees.selector, COMMUNITY, POOL));
        revShare.fund{value: 1 ether}(COMMUNITY, POOL, pin);
    }

    function test_fundRevertsOnUnknownPool() public {
        vm.prank(FUNDER);
        vm.expectRevert(abi.encodeWithSelector(RevShare.NoPayees.selector, COMMUNITY, POOL));
        revShare.fund{value: 1 ether}(COMMUNITY, POOL, bytes32(0));
    }

    function test_fundRevertsWithoutValue() public {
        bytes32 pin = publish(sampleEntries());
        vm.expectRevert(RevShare.NothingToFund.selector);
        revShare.fund(COMMUNITY, POOL, pin);
    }

    function test_claimOnARoundNobodyFundedReverts() public {
        RevShare.Entry[] memory entries = sampleEntries();
        bytes32 digest = publish(entries);
        RevShare.EntryLeaf memory alice = EntryTree.leafOf(entries, 0);
        bytes32[] memory proof = EntryTree.proof(entries, 0);
        vm.expectRevert(abi.encodeWithSelector(RevShare.NothingFunded.selector, digest));
        revShare.claim(digest, alice, proof);
    }

    function test_claimWithAWrongProofReverts() public {
        RevShare.Entry[] memory entries = sampleEntries();
        bytes32 digest = publish(entries);
        fund(7 ether);
        RevShare.EntryLeaf memory alice = EntryTree.leafOf(entries, 0);
        bytes32 aliceLeaf = EntryTree.leafHash(alice);
        bytes32[] memory carolsProof = EntryTree.proof(entries, 2);
        vm.expectRevert(abi.encodeWithSelector(RevShare.InvalidProof.selector, aliceLeaf));
        revShare.claim(digest, alice, carolsProof);
        bytes32[] memory aliceProof = EntryTree.proof(entries, 0);
        alice.weight = 70;
        vm.expectRevert(abi.encodeWithSelector(RevShare.InvalidProof.selector, EntryTree.leafHash(alice)));
        revShare.claim(digest, alice, aliceProof);
        alice.weight = 50;
        alice.payee = address(0xBAD);
        vm.expectRevert(abi.encodeWithSelector(RevShare.InvalidProof.selector, EntryTree.leafHash(alice)));
        revShare.claim(digest, alice, aliceProof);
        assertEq(revShare.balanceOf(address(0xBAD)), 0, "the forger got nothing");
    }

    function test_claimForAnEntryWithoutPayeeReverts() public {
        RevShare.Entry[] memory entries = sampleEntries();
        bytes32 digest = publish(entries);
        fund(7 ether);
        RevShare.EntryLeaf memory bob = EntryTree.leafOf(entries, 1);
        bytes32[] memory proof = EntryTree.proof(entries, 1);
        vm.expectRevert(abi.encodeWithSelector(RevShare.NoPayee.selector, EntryTree.leafHash(bob)));
        revShare.claim(digest, bob, proof);
    }

    function test_claimTwiceWithNothingNewReverts() public {
        RevShare.Entry[] memory entries = sampleEntries();
        bytes32 digest = publish(entries);
        fund(7 ether);
        claim(digest, entries, 0);
        RevShare.EntryLeaf memory alice = EntryTree.leafOf(entries, 0);
        bytes32[] memory proof = EntryTree.proof(entries, 0);
        vm.expectRevert(abi.encodeWithSelector(RevShare.NothingToClaim.selector, EntryTree.leafHash(alice)));
        revShare.claim(digest, alice, proof);
        assertEq(revShare.balanceOf(ALICE), 5 ether, "credited once");
    }

    function test_claimOfAShareThatRoundsToZeroReverts() public {
        RevShare.Entry[] memory entries = threeEqualPayees();
        bytes32 digest = publish(entries);
        fund(2);
        RevShare.EntryLeaf memory a = EntryTree.leafOf(entries, 0);
        bytes32[] memory proof = EntryTree.proof(entries, 0);
        vm.expectRevert(abi.encodeWithSelector(RevShare.NothingToClaim.selector, EntryTree.leafHash(a)));
        revShare.claim(digest, a, proof);
    }

    function test_aPayeeThatCouldNeverWithdrawIsRefusedAtReportTime() public {
        address[3] memory unusable = [address(revShare), address(0x4), address(0x1ff)];
        for (uint256 i; i < unusable.length; ++i) {
            RevShare.Entry[] memory entries = sampleEntries();
            entries[2].payee = unusable[i];
            RevShare.PoolReport memory report = poolReport(COMMUNITY, POOL, 1, bytes32(0), entries);
            bytes memory sigs = signSorted(keys, digestOf(report));
            vm.expectRevert(abi.encodeWithSelector(RevShare.PayeeUnusable.selector, uint256(2), unusable[i]));
            revShare.submitPoolReport(report, sigs);
        }
        (uint64 version,) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 0, "no report landed");
    }

    // ------------------------------------------------------------------ withdraw

    /// @dev Publishes the sample entries with `alice` as the first payee, funds 7 ether and claims her 5.
    function creditAlice(address alice) internal {
        RevShare.Entry[] memory entries = sampleEntries();
        entries[0].payee = alice;
        bytes32 digest = publish(entries);
        fund(7 ether);
        claim(digest, entries, 0);
    }

    function test_withdrawPaysTheBalanceOnceAndZeroesIt() public {
        creditAlice(ALICE);
        vm.expectEmit(address(revShare));
        emit RevShare.Withdrawn(ALICE, ALICE, 5 ether);
        vm.prank(ALICE);
        uint256 paid = revShare.withdraw();
        assertEq(paid, 5 ether, "paid");
        assertEq(ALICE.balance, 5 ether, "alice's ETH");
        assertEq(revShare.balanceOf(ALICE), 0, "alice's balance after");
        assertEq(address(revShare).balance, 2 ether, "contract keeps carol's unclaimed share");
        vm.prank(ALICE);
        vm.expectRevert(RevShare.NothingToWithdraw.selector);
        revShare.withdraw();
    }

    function test_withdrawToPaysAnotherAddress() public {
        RefusingPayee payee = new RefusingPayee();
        creditAlice(address(payee));
        address wallet = address(0xB0B0);
        vm.expectEmit(address(revShare));
        emit RevShare.Withdrawn(address(payee), wallet, 5 ether);
        payee.withdrawTo(revShare, wallet);
        assertEq(wallet.balance, 5 ether, "the named account got the ETH");
        assertEq(revShare.balanceOf(address(payee)), 0, "the payee's balance is spent");
    }

    function test_withdrawToAnAccountThatCannotBePaidReverts() public {
        creditAlice(ALICE);
        address[3] memory unusable = [address(0), address(revShare), address(0x2)];
        for (uint256 i; i < unusable.length; ++i) {
            vm.prank(ALICE);
            vm.expectRevert(abi.encodeWithSelector(RevShare.UnusableRecipient.selector, unusable[i]));
            revShare.withdrawTo(unusable[i]);
        }
        assertEq(revShare.balanceOf(ALICE), 5 ether, "the balance is kept");
    }

    function test_reentrantWithdrawGetsNothingMore() public {
        ReentrantPayee attacker = new ReentrantPayee(revShare);
        creditAlice(address(attacker));
        attacker.withdraw();
        assertEq(attacker.received(), 5 ether, "attacker received its share once");
        assertTrue(!attacker.reentryPaid(), "re-entry paid nothing");
        assertEq(address(revShare).balance, 2 ether, "carol's share untouched");
    }

    function test_failedTransferRevertsAndKeepsTheBalance() public {
        RefusingPayee payee = new RefusingPayee();
        creditAlice(address(payee));
        vm.expectRevert(abi.encodeWithSelector(RevShare.WithdrawalFailed.selector, address(payee), 5 ether));
        payee.withdraw(revShare);
        assertEq(revShare.balanceOf(address(payee)), 5 ether, "balance kept");
    }
}
